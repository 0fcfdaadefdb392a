"""One module per area. Every state change is one function here: it writes the change and its
event in one transaction (see labs.events.change) and publishes only after commit."""
