from configs import dify_config
from extensions.ext_redis import redis_client
from models import TidbAuthBinding, db


class TidbAuthService:
    """Hands out pre-created TiDB Serverless clusters to tenants."""

    @staticmethod
    def get_binding(tenant_id: str) -> TidbAuthBinding | None:
        return db.session.query(TidbAuthBinding).filter(TidbAuthBinding.tenant_id == tenant_id).first()

    @staticmethod
    def claim_idle_cluster(tenant_id: str) -> TidbAuthBinding | None:
        with redis_client.lock(f"tidb_claim_{dify_config.DB_DATABASE}", timeout=30):
            binding = (
                db.session.query(TidbAuthBinding)
                .filter(TidbAuthBinding.active.is_(False), TidbAuthBinding.status == "ACTIVE")
                .first()
            )
            if binding is None:
                return None
            binding.tenant_id = tenant_id
            binding.active = True
            db.session.commit()
            return binding
