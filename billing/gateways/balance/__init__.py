"""Account balance: the customer pays from the credit on their account."""
