from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    port: int = 8104
    time_zone: str = "Europe/Berlin"
    suppression_threshold: int = Field(5, ge=2, description="Counts below this are suppressed in reports (DOMAIN.md flow 7 default: 5).")
    funders_file: Path | None = Field(None, description="Funders, contacts and distribution lists (default: services/reporting/data/funders.yaml).")

    # schedules (ARCHITECTURE.md "report schedule")
    schedules_enabled: bool = True
    monthly_working_day: int = Field(3, ge=1, le=15, description="The monthly statistics go out on this working day of the month (NRW calendar).")
    quarterly_working_day: int = Field(5, ge=1, le=20, description="Funder and KPI reports go out on this working day after a quarter ends.")
    report_hour: int = Field(6, ge=0, le=23, description="Local hour at which scheduled reports are generated.")

    # delivery by e-mail
    smtp_host: str | None = Field(None, description="SMTP server for report delivery; unset = delivery fails and escalates.")
    smtp_port: int = 25
    smtp_from: str = "berichte@ankommen.example"
    smtp_timeout_s: float = 20.0
    delivery_deadline_hours: int = Field(48, ge=1, description="Undelivered this long after generation, a report escalates to the reporting officer.")
    delivery_first_retry_s: int = Field(60, ge=1, description="First back-off between delivery attempts (doubles each time).")
    delivery_max_backoff_s: int = Field(3600, ge=1)
    delivery_retry_after_escalation_hours: int = Field(6, ge=1, description="After escalation, another attempt every this many hours.")
    delivery_max_attempts: int = Field(100, ge=1, description="Attempts in all (about 48 hourly attempts reach the default deadline).")
