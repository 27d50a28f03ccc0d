from ..config import VERSION
from ..services import API_PREFIXES, SERVICES
from . import bp
from .envelope import ok
from .openapi_schema import STR, Op

# The spec's ports of the five services (api-contract.md §11).
SERVICE_PORTS = dict(zip(SERVICES, (3001, 3002, 3003, 3004, 3005)))
# The resource prefixes of api-contract.md §11, as the root document names them.
ENDPOINTS = {"users": "/api/users", "session": "/api/session", "sessions": "/api/sessions",
             "patients": "/api/patients", "patientCards": "/api/patient-cards",
             "outPatientRecords": "/api/out-patient-records", "patientFiles": "/api/patient-files",
             "clinicalProformas": "/api/clinical-proformas", "clinicalOptions": "/api/clinical-options",
             "outpatientIntakeRecords": "/api/outpatient-intake-records", "adlFiles": "/api/adl-files",
             "prescriptions": "/api/prescriptions"}


def root_document(**extra):
    """What the original API answered at `GET /` (api-contract.md §1)."""
    return ok(**extra, message="Welcome to EMRS PGIMER API", version=VERSION, documentation="/api/docs",
              health="/health", endpoints=ENDPOINTS)


@bp.get("", endpoint="index")
@bp.get("/", endpoint="index")
def index():
    # As the original gateway did: the services and the prefixes each one serves.
    return root_document(services=[{"name": name, "port": SERVICE_PORTS[name],
                                    "prefixes": [p for p in API_PREFIXES[name] if p != "/api"]}
                                   for name in SERVICES])


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    # ---------------------------------------------------------------- meta
    "index": Op("Meta", "API index", extra={
        "version": STR, "documentation": STR, "health": STR,
        "endpoints": {"type": "object", "additionalProperties": STR}}, message="Welcome to EMRS PGIMER API"),
}
