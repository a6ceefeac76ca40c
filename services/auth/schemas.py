from pydantic import BaseModel, ConfigDict, Field


class SetPasswordRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200)
    new_password: str = Field(min_length=1, max_length=4096)


class SetPasswordResponse(BaseModel):
    status: str = "password_set"
    site: str
    username: str


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=63)
    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=4096)


class LoginResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    redirect: str
