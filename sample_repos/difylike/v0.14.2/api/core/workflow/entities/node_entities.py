from enum import Enum


class NodeType(str, Enum):
    START = "start"
    END = "end"
    ANSWER = "answer"
    LLM = "llm"
    KNOWLEDGE_RETRIEVAL = "knowledge-retrieval"
    IF_ELSE = "if-else"
    CODE = "code"
    TEMPLATE_TRANSFORM = "template-transform"
    HTTP_REQUEST = "http-request"
    TOOL = "tool"
    ITERATION = "iteration"

    @classmethod
    def value_of(cls, value: str) -> "NodeType":
        for node_type in cls:
            if node_type.value == value:
                return node_type
        raise ValueError(f"invalid node type value {value}")


class NodeRunMetadataKey(str, Enum):
    TOTAL_TOKENS = "total_tokens"
    TOTAL_PRICE = "total_price"
    CURRENCY = "currency"
