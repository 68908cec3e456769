from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class CaseworkSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASEWORK_", extra="ignore")

    port: int = 8102
    review_interval_days: int = Field(90, ge=1, description="Days between reviews of a case (DOMAIN.md flow 3 default).")
