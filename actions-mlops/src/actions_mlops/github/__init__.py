"""What the generated workflows do on GitHub beyond the pipeline: pushes with the job's token,
template updates, and GitHub's refusals said in one line."""
