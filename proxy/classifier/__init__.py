"""Request complexity classification.

A request flows through a cascade of stages, cheapest first: `rules`
(precompiled regex markers and known simple intents), `tfidf` (TF-IDF +
logistic regression served by onnxruntime) and, only for requests those two
leave ambiguous, `embedding` (MiniLM similarity to exemplar prompts). The
result is a `Classification`: a tier, a monotone complexity score, an
intent where one is known, the deciding stage and the reasons.

`Classifier.load(settings, base_dir)` reads the artifacts once;
`Classifier.classify(request)` is pure and synchronous; `aclassify` keeps the
embedding stage off the event loop. Training and evaluation live in
`proxy.classifier.commands` and are the only code that imports scikit-learn.
"""

from proxy.classifier.cascade import Classification, Classifier
from proxy.classifier.settings import ClassifierSettings

__all__ = ["Classification", "Classifier", "ClassifierSettings"]
