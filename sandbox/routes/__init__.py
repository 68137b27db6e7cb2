"""The sandbox's HTTP surface, one module per production system it stands in for."""
