"""drkit's CrossGuard policy pack: cost and DR rules, one small policy per rule."""
