"""Every write to the billing core goes through a function in this package (the house style: business rules
live in services, one transaction each)."""
