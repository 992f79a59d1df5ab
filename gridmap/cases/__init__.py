"""Cases (事件): taxonomy, intake, workflow, escalation, nearest cameras, bulk import."""
