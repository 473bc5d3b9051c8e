"""Operations that combine store calls with domain rules; the API and the CLI both call these."""
