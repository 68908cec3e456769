from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class FundingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FUNDING_", extra="ignore")

    port: int = 8103
    hardship_fund_cents: int = Field(1_500_000, ge=0, description="Härtefallfonds per fiscal year (000 §7 row 34): 15,000 EUR.")
    discretionary_fund_cents: int = Field(16_000_000, ge=0, description="Verfügungsfonds per fiscal year (002 §5): ~160,000 EUR.")
