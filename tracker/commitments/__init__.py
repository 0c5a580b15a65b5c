"""A commitment's own page and the form that sets its title, owner, priorities and SMART target."""
