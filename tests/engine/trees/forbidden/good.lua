tree{ name = "good", version = "1.0", probes = { "battery" } }
-- The trees beside it fail; this one still runs and raises its fault.
node("health", { health_pct = snapshot.battery.health_pct }, "fault")
fault("BAT-001", { health_pct = snapshot.battery.health_pct })
