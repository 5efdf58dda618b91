"""Orders, invoices, payments and renewals through invoices: built in a later issue."""
