"""Placeholder: operations of this resource kind are answered as not supported yet."""
