from .account import Account, AccountStatus, Tenant, TenantAccountJoin, TenantAccountRole
from .dataset import Dataset, Document, DocumentSegment, TidbAuthBinding
from .engine import db
from .model import App, AppMode, Conversation, EndUser, Message
from .workflow import Workflow, WorkflowNodeExecution, WorkflowRun, WorkflowRunStatus

__all__ = [
    "Account",
    "AccountStatus",
    "App",
    "AppMode",
    "Conversation",
    "Dataset",
    "Document",
    "DocumentSegment",
    "EndUser",
    "Message",
    "Tenant",
    "TenantAccountJoin",
    "TenantAccountRole",
    "TidbAuthBinding",
    "Workflow",
    "WorkflowNodeExecution",
    "WorkflowRun",
    "WorkflowRunStatus",
    "db",
]
