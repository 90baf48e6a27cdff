"""Malls: the tenants. One server hosts many; each has its own id, currency and time zone."""
