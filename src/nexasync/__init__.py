"""nexasync: bidirectional lead sync between NexaDesk and a CRM."""
