"""Swagger UI's files served locally: the docs page must work on machines without internet."""
from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("docs_static", __name__)


@bp.get("/docs/static/<path:filename>")
def swagger_static(filename: str):
    return send_from_directory(swagger_ui_path, filename, max_age=3600)
