from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings

_DATA = Path(__file__).resolve().parent / "data"


class CaseworkSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASEWORK_", extra="ignore")

    port: int = 8102
    review_interval_days: int = Field(90, ge=1, description="Days between reviews of a case (DOMAIN.md flow 3 default).")
    review_escalation_days: int = Field(14, ge=1, description="An unrecorded review escalates to the team lead this many days after its due date.")
    first_contact_days: int = Field(14, ge=1, description="First contact (welcome visit) due this many days after opening (DOMAIN.md flow 3).")
    first_contact_reminder_days: int = Field(10, ge=1, description="Reminder to the caseworker this many days after opening.")
    referral_acknowledgement_working_days: int = Field(5, ge=1, description="Partner acknowledges a referral within this many NRW working days (flow 4).")
    referral_first_appointment_working_days: int = Field(20, ge=1, description="First appointment within this many NRW working days of the referral (flow 4).")
    caseload_cap_per_fte: int = Field(190, ge=1, description="Caseload cap per full-time caseworker (000 'Soziales Fallmanagement': 1:190).")
    retention_days: int = Field(
        1095, ge=1,
        description="Erase a person this many days after their last case closed (GDPR Art. 5(1)(e), Art. 17(1)(a); SGB X §84(2)). Default 3 years: the "
                    "seeds and DOMAIN.md name no period, so the regular limitation period of claims (§195 BGB, 3 years) is assumed; the DPO confirms.",
    )
    retention_sweep_enabled: bool = Field(True, description="Create the Temporal Schedule that applies retention_days.")
    retention_sweep_hours: int = Field(24, ge=1, description="Hours between two retention sweeps.")
    caseworkers_file: Path = Field(_DATA / "caseworkers.json", description="Caseworker register loaded at start (entries changed by the team lead stay).")
