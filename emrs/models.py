"""Imports every domain's models so that the metadata holds the whole schema."""
from .audit.models import AuditLog  # noqa: F401
from .assessments.models import *  # noqa: F401,F403
from .auth.models import LoginOTP, PasswordResetToken, RefreshToken, User, UserSession  # noqa: F401
from .clinical.models import *  # noqa: F401,F403
from .drafts.models import *  # noqa: F401,F403
from .followups.models import *  # noqa: F401,F403
from .intake.models import *  # noqa: F401,F403
from .cap.models import *  # noqa: F401,F403
from .numbering.models import *  # noqa: F401,F403
from .opd.models import *  # noqa: F401,F403
from .patients.models import *  # noqa: F401,F403
from .prescriptions.models import *  # noqa: F401,F403
from .idempotency_keys import IdempotencyKey  # noqa: F401
from .versioning import ClinicalVersion  # noqa: F401
