from flask import abort, jsonify, request

from models import App, db

from . import bp


@bp.get("/apps")
def list_apps():
    tenant_id = request.args.get("tenant_id")
    if not tenant_id:
        abort(400)
    apps = db.session.query(App).filter(App.tenant_id == tenant_id).order_by(App.created_at.desc()).all()
    return jsonify([{"id": a.id, "name": a.name, "mode": a.mode} for a in apps])


@bp.get("/apps/<uuid:app_id>")
def get_app(app_id):
    app = db.session.get(App, str(app_id))
    if app is None:
        abort(404)
    return jsonify({"id": app.id, "name": app.name, "mode": app.mode, "enable_site": app.enable_site})
