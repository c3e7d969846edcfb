"""The only package that knows Jimeng's wire protocol. It never imports Flask."""
