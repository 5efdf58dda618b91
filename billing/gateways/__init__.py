"""Payment gateways: how a customer pays an invoice and how the payment is confirmed
(DESIGN.md, "Billing"). ``registry`` finds them; each built-in lives in its own package."""
