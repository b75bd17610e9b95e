"""Converters from original public dataset files to RecBole atomic files."""
