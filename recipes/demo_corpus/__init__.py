"""The demo checkpoint's training corpus, built from real labelled data through the app's own
extractors.

Text and labels are real (CMU-MOSI transcripts, MELD utterances); speech is espeak-ng reading the
same text; faces are CK+ posed expressions paired with utterances by sentiment, softly, so that no
modality is a perfect oracle. ``python -m recipes.demo_corpus`` builds it (see ``cli.py``).
"""
