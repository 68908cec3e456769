from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    port: int = 8101
    master_key: str = Field("", description="Base64 of 32 random bytes; wraps every person's data key (AES key wrap). `ankommen up` generates one.")

    # routing (DOMAIN.md flow 1; defaults we chose)
    good_prospect_countries: list[str] = Field(
        default=["SY", "ER", "IQ", "IR", "SO", "AF", "YE"], description="Asylum seekers from these countries have a good prospect of staying."
    )
    safe_countries_of_origin: list[str] = Field(
        default=["AL", "BA", "GH", "XK", "MK", "ME", "SN", "RS", "GE", "MD"], description="AsylG §29a Annex II: prospect none."
    )
    tolerated_years: int = Field(3, ge=0, description="Tolerated (Duldung) this many years or longer counts as 'tolerated for years' (casework route).")

    # ABRA pre-registration clearing (DOMAIN.md flow 2; defaults we chose)
    clearing_booking_working_days: int = Field(3, ge=0, description="An appointment is offered within this many working days (NRW).")
    clearing_reminder_days: int = Field(10, ge=1, description="Reminder to the ABRA team this many days after moving in if not cleared.")
    registration_deadline_days: int = Field(14, ge=1, description="Registration of residence is due this many days after moving in (§17 BMG).")
    clearing_max_rebookings: int = Field(2, ge=0, description="A no-show is rebooked this often, then the clearing closes as not appeared.")
    clearing_slot_retry_minutes: int = Field(60, ge=1, description="With no free slot, booking is retried after this many minutes.")

    # newcomer communication (issue 14; defaults we chose)
    abra_place: str = Field(
        "Beratungsstelle ABRA, Kommunales Jobcenter Hamm",
        description="Where the ABRA clearing interviews take place, printed as it is on letters and reminders.",
    )
    reminders_enabled: bool = Field(True, description="Create the schedule that sends appointment reminders by e-mail.")
    reminder_hour: int = Field(9, ge=0, le=23, description="Reminders go out from this hour (Berlin) on the working day before the appointment.")
    reminder_interval_minutes: int = Field(15, ge=1, le=720, description="How often the reminder schedule looks for due reminders.")
    smtp_host: str | None = Field(None, description="SMTP relay for reminder e-mails; unset = no reminders are sent (they stay due).")
    smtp_port: int = 25
    smtp_from: str = "buergeramt@ankommen.example"
    smtp_timeout_s: float = 20.0
