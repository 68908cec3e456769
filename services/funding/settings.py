from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class FundingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FUNDING_", extra="ignore")

    port: int = 8103
    hardship_fund_cents: int = Field(1_500_000, ge=0, description="Härtefallfonds per fiscal year (000 §7 row 34): 15,000 EUR.")
    discretionary_fund_cents: int = Field(16_000_000, ge=0, description="Verfügungsfonds per fiscal year (002 §5): ~160,000 EUR.")
    hardship_two_deciders_above_cents: int = Field(100_000, ge=0, description="Above this amount (1,000 EUR) two distinct deciders (DOMAIN.md flow 5).")
    hardship_decision_working_days: int = Field(5, ge=1, description="Working days (NRW) until a hardship decision is due; then escalation.")
    hardship_max_period_months: int = Field(6, ge=1, description="The help covers a clearly limited period (000 'Härtefallfond'): at most this many months.")
    measure_normal_max_cents: int = Field(
        500_000, ge=0, description="Verfügungsfonds: normally at most 5,000 EUR per measure (002 §5); above needs a written justification.")
    steering_quorum_fraction: float = Field(0.5, gt=0, le=1, description="Share of the steering group's members that must be present for a quorum.")
    steering_members: list[str] = Field(
        default_factory=lambda: [f"steering{i}" for i in range(1, 8)],
        description="Initial member register of the steering group (Lenkungsgruppe, 002 §2), seeded once.",
    )
    proof_of_use_months: int = Field(3, ge=1, description="Verwendungsnachweis due this many months after the measure ends.")
    proof_reminder_weeks: list[int] = Field(default_factory=lambda: [4, 1], description="Reminders this many weeks before the proof of use is due.")
    receipt_max_bytes: int = Field(5_000_000, ge=1, description="A receipt (PDF, PNG, JPEG) of the proof of use is at most this large (5 MB).")
    receipts_total_max_bytes: int = Field(25_000_000, ge=1, description="All receipts of one measure together are at most this large (25 MB).")
    smtp_host: str | None = Field(None, description="SMTP relay for decision, reminder and rework e-mails to the organisations; unset = mails stay queued.")
    smtp_port: int = 25
    smtp_from: str = "verfuegungsfonds@ankommen.example"
    smtp_timeout_s: float = 20.0
    mail_poll_s: float = Field(1.0, gt=0, description="How often the mail outbox looks for mails to send.")
    mail_max_backoff_s: float = Field(600.0, gt=0, description="Longest wait between two attempts at a mail the relay could not hand over.")
