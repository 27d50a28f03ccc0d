from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, StopValidation

from .models import GRADES, ROLES


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired("Enter your e-mail address."), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=200)])


class OTPForm(FlaskForm):
    otp = StringField("Code", validators=[DataRequired("Enter the 6-digit code."),
                                          Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="The code is 6 digits.")])


class TOTPEnrolForm(OTPForm):
    """Setting up an authenticator app changes the second factor: the current password too."""
    password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])


def at_most(n: int, message: str):
    """Like Length(max=n) but stops the chain: the address parser takes seconds on megabytes."""
    def check(form, field):
        if field.data and len(field.data) > n:
            raise StopValidation(message)
    return check


class EmailForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired("Enter your e-mail address."),
                                             at_most(255, "Enter a valid e-mail address."),
                                             Email("Enter a valid e-mail address.")])


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired("Enter a new password."), Length(max=200)])
    confirm = PasswordField("Repeat new password", validators=[DataRequired("Repeat the new password.")])


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    password = PasswordField("New password", validators=[DataRequired("Enter a new password."), Length(max=200)])
    confirm = PasswordField("Repeat new password", validators=[DataRequired("Repeat the new password.")])


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter a name."), Length(2, 255)])
    email = EmailField("E-mail", validators=[DataRequired("Enter an e-mail address."), Length(max=255)])
    mobile = StringField("Mobile", validators=[Optional(), Length(max=15)])
    designation = StringField("Designation", validators=[Optional(), Length(max=100)])


class UserForm(ProfileForm):
    # A new account starts with no role chosen: the administrator picks one on purpose.
    role = SelectField("Role", choices=[SelectChoice("", "Choose a role…")] + [SelectChoice(r) for r in ROLES],
                       validators=[DataRequired("Choose a role.")])
    # Residents only (required for them): decides how much of the department's lists they see.
    sub_role = SelectField("Resident grade", choices=[SelectChoice("", "Choose a grade…")]
                           + [SelectChoice(code, label) for code, label in GRADES.items()],
                           validators=[Optional()])
    two_factor_enabled = BooleanField("Require a login code (second factor)", default=True)


class SetupPasswordForm(ResetForm):
    """The invitation link's page: the user chooses their first password."""


class PasswordConfirmForm(FlaskForm):
    password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])


class EmptyForm(FlaskForm):
    """CSRF-only form for POST buttons."""
