"""WSGI entry point: `waitress-serve --call emrs:create_app` or `waitress-serve wsgi:app`."""
from emrs import create_app

app = create_app()
