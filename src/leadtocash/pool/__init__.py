"""Public customer pool (公海池): rules, ownership operations, reclaim, fair allocation."""
