from decimal import Decimal
from enum import Enum
from typing import Optional

from pydantic import BaseModel


class LLMMode(str, Enum):
    COMPLETION = "completion"
    CHAT = "chat"


class LLMUsage(BaseModel):
    prompt_tokens: int
    prompt_unit_price: Decimal
    prompt_price_unit: Decimal
    prompt_price: Decimal
    completion_tokens: int
    completion_unit_price: Decimal
    completion_price_unit: Decimal
    completion_price: Decimal
    total_tokens: int
    total_price: Decimal
    currency: str
    latency: float

    @classmethod
    def empty_usage(cls) -> "LLMUsage":
        return cls(
            prompt_tokens=0,
            prompt_unit_price=Decimal("0.0"),
            prompt_price_unit=Decimal("0.0"),
            prompt_price=Decimal("0.0"),
            completion_tokens=0,
            completion_unit_price=Decimal("0.0"),
            completion_price_unit=Decimal("0.0"),
            completion_price=Decimal("0.0"),
            total_tokens=0,
            total_price=Decimal("0.0"),
            currency="USD",
            latency=0.0,
        )


class LLMResult(BaseModel):
    model: str
    message: str
    usage: LLMUsage
    system_fingerprint: Optional[str] = None
