"""The pure core: protocol, rules and values. Standard library only."""
