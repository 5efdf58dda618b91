"""Stripe Checkout: the customer pays on Stripe's hosted page; webhooks confirm it."""
