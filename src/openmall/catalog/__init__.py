"""Catalog: products, options and variants, stock, categories, brands."""
