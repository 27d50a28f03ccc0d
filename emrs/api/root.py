from .. import __version__
from . import bp
from .envelope import ok


@bp.get("", endpoint="index")
@bp.get("/", endpoint="index")
def index():
    return ok(message="Welcome to EMRS PGIMER API", version=__version__, documentation="/api/docs",
              health="/health",
              endpoints={"users": "/api/users", "session": "/api/session", "sessions": "/api/sessions",
                         "patients": "/api/patients", "patientCards": "/api/patient-cards",
                         "outPatientRecords": "/api/out-patient-records", "patientFiles": "/api/patient-files",
                         "clinicalProformas": "/api/clinical-proformas", "clinicalOptions": "/api/clinical-options",
                         "outpatientIntakeRecords": "/api/outpatient-intake-records", "adlFiles": "/api/adl-files",
                         "prescriptions": "/api/prescriptions"})
