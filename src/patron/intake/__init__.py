"""Intake: the shop's systems send customers, products, orders, status changes, refunds and
behaviour events one at a time (over the HTTP API); :class:`patron.intake.service.IntakeService`
stores each idempotently, with the same natural keys and stubs as file ingestion."""
