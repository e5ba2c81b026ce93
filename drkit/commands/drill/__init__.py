"""Scripted failover drills: crash-safe, measured RTO/RPO, on a simulated account or a real one.

Modules, one concern each: `topology` (what the drill reads from the offline graph),
`clock` (virtual time), `fidelity` (what moto does not model: health checkers, DNS
answers, replication lag, region outage), `traffic` (synthetic clients, in-flight
requests, redrive), `journal` (fsynced intent/result records), `scenarios`,
`engine` (the steps), `backends/` (sim on moto, aws on boto3), `report`.
"""
