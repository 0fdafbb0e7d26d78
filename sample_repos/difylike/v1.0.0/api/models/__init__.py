from .account import Account, AccountStatus, Tenant, TenantAccountJoin, TenantAccountRole
from .dataset import (
    ChildChunk,
    Dataset,
    DatasetAutoDisableLog,
    Document,
    DocumentSegment,
)
from .engine import db
from .model import App, AppMode, AppTag, Conversation, EndUser, Message
from .workflow import Workflow, WorkflowNodeExecution, WorkflowRun, WorkflowRunStatus

__all__ = [
    "Account",
    "AccountStatus",
    "App",
    "AppMode",
    "AppTag",
    "ChildChunk",
    "Conversation",
    "Dataset",
    "DatasetAutoDisableLog",
    "Document",
    "DocumentSegment",
    "EndUser",
    "Message",
    "Tenant",
    "TenantAccountJoin",
    "TenantAccountRole",
    "Workflow",
    "WorkflowNodeExecution",
    "WorkflowRun",
    "WorkflowRunStatus",
    "db",
]
