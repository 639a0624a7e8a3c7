"""Bodies of `/auth/login` and `/auth/register` (SPEC §4), JSON or form fields alike."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, StringConstraints

from reliatic_appliance.schemas.common import STRICT_INPUT

# Bounds only: the rules (an address, 12 characters) are the services' (services/users.py,
# services/passwords.py), so the CLI and the API refuse the same things the same way.
EmailText = Annotated[str, StringConstraints(min_length=1, max_length=254)]
PasswordText = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
TokenText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class LoginBody(BaseModel):
    model_config = STRICT_INPUT

    email: EmailText
    password: PasswordText


class RegisterBody(BaseModel):
    model_config = STRICT_INPUT

    token: TokenText
    password: PasswordText
    # Required when the invitation names no address; must match it when it does.
    email: EmailText | None = None
