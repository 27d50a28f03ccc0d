"""Children: the Child Guidance Clinic's patients (child and adolescent psychiatry). A child
is a row of the one patient registry (clinic='child'); this package holds the child card's
pages, the original's child API shape and the move to the adult clinic at 18."""
from flask import Blueprint

bp = Blueprint("children", __name__, url_prefix="/children")

from . import views  # noqa: E402,F401
