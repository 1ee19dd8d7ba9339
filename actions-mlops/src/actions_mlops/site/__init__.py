"""The site: a static registry of versions, metrics, stages and drift for GitHub Pages."""
