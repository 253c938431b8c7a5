"""Locking: resolvers turn declared requirements into hashed locks; fetch builds wheelhouses."""
