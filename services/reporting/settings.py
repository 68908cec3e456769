from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    port: int = 8104
    time_zone: str = "Europe/Berlin"
