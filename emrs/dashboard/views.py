from flask import render_template

from ..auth.guard import principal
from . import bp, service


@bp.get("/")
def index():
    user = principal()
    return render_template("dashboard/index.html", figures=service.figures(user), user=user)
