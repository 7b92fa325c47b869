"""Speech synthesis: synthesizers, Chinese text front end, emotion rendering, synthesis cache."""
