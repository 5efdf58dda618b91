"""Bank transfer: the customer wires the money; staff mark the invoice paid."""
