"""Keyword lists of the rule markers (data, kept apart from the matching code).

Keywords are matched as whole lower-case words or word sequences against a
set built once per request, which costs the same however many keywords
there are; one big regex alternation would cost per keyword per position
(milliseconds on a long prompt). Inflected forms are listed explicitly.
"""

from __future__ import annotations


def _split(text: str) -> frozenset[str]:
    return frozenset(item.strip() for item in text.split("|") if item.strip())


# name -> (keywords, weight). A keyword with spaces is a phrase.
KEYWORDS: dict[str, tuple[frozenset[str], int]] = {
    "proof": (_split(
        "prove|proof|proofs|disprove|show that|demonstrate that|derive|derivation|lemma|theorem|"
        "by induction|contradiction|rigorous|rigorously"), 2),
    "math": (_split(
        "solve|equation|equations|integral|derivative|polynomial|matrix|matrices|eigenvalue|"
        "eigenvalues|eigenvector|eigenvectors|probability|expected value|variance|modulo|"
        "prime factor|prime factors|prime factorization|permutation|permutations|combination|"
        "combinations|how many ways|how many different|how many distinct|greatest common|"
        "least common|remainder|optimization|optimisation|minimize|minimise|maximize|maximise|"
        "calculate|compute"), 1),
    "code_task": (_split(
        "implement|implementing|implementation|implemented|refactor|refactoring|debug|debugging|"
        "algorithm|algorithms|function|script|program|write code|this code|following code|"
        "sample code|example code|some code|the code|python code|code snippet|code review|"
        "code that|code to|code for|class|api|sql|regex|query|compile|compiler|compiling|runtime|"
        "time complexity|big o|big-o|python|javascript|typescript|java|c++|rust|golang|bash|html|"
        "css|react|docker|kubernetes|database|recursion|recursive|data structure|unit test|"
        "unit tests"), 1),
    "tech": (_split(
        "linux|ubuntu|windows server|macos|terminal|command line|shell|ssh|git|github|npm|pip|"
        "node|nodejs|django|flask|fastapi|dotnet|c#|kotlin|android|ios|unity|unreal|excel|vba|"
        "macro|power bi|powerbi|tableau|pandas|numpy|matplotlib|sklearn|scikit|pytorch|"
        "tensorflow|keras|jax|hugging face|huggingface|llm|gpt|embedding|vector|dataframe|csv|"
        "json|yaml|xml|postgres|postgresql|mysql|sqlite|mongodb|redis|kafka|spark|hadoop|aws|"
        "azure|gcp|lambda|s3|ec2|terraform|ansible|nginx|apache|http|https|tcp|dns|vpn|firewall|"
        "server|backend|frontend|endpoint|webhook|oauth|jwt|encryption|hash|hashing|latency|"
        "throughput|cache|caching|thread|async|await|gpu|cuda|shader|framework|library|module|"
        "dependency|deploy|deploying|deployment|pipeline|ci/cd|firmware|blockchain|solidity|"
        "smart contract|arduino|raspberry pi|microcontroller|fpga|verilog|matlab|octave|latex|"
        "markdown|plugin|extension|browser|chrome|firefox|selenium|scrape|scraping|crawler|"
        "cron|systemd|kernel|debugger|stack trace|exception|error message|bug|variable|array|"
        "integer|boolean|loop"), 1),
    "hard_code": (_split(
        "thread-safe|thread safe|concurrent|concurrency|distributed|lock-free|lock free|"
        "from scratch|production-ready|production ready|scalable|scalability|architecture|"
        "memory leak|race condition|deadlock|deadlocks|compiler|interpreter|parser|"
        "neural network|transformer|gradient|backpropagation|cryptography|cryptographic"), 2),
    "reasoning": (_split(
        "step by step|step-by-step|reasoning|analyze|analyse|analysis|compare and contrast|"
        "trade-off|trade-offs|tradeoff|tradeoffs|pros and cons|evaluate|critique|justify|"
        "implication|implications|in depth|in-depth|detailed|comprehensive|thorough|thoroughly|"
        "nuanced|hypothesis|hypotheses|counterargument|argue|persuasive|strategy|strategies|"
        "framework|"
        # open-ended philosophical questions: short, but no lookup answers them
        "meaning of life|free will|consciousness|morality|moral|ethics|ethical|philosophy|"
        "philosophical|existential|existence of god"), 1),
    "logic": (_split(
        "puzzle|riddle|logic grid|clue|clues|deduce|each of the|who owns|if and only if|paradox|"
        "syllogism|truth table|constraint|constraints"), 1),
    "writing": (_split(
        "essay|report|article|blog post|story|poem|screenplay|script|cover letter|speech|proposal|"
        "business plan|curriculum|lesson plan|outline|chapter|paragraph|paragraphs"), 1),
    "constraints": (_split(
        "must|must not|should not|do not|don't|without using|at least|no more than|at most|"
        "in the style of|make sure|ensure|format it|format the|use only|only use"), 1),
    "multi_step": (_split("and then|after that|finally|additionally|furthermore"), 1),
    "expert": (_split(
        "diagnosis|diagnose|diagnostic|differential|pathophysiology|pharmacokinetics|clinical|"
        "statute|jurisdiction|tort|litigation|thermodynamics|thermodynamic|quantum|relativity|"
        "entropy|enzyme|enzymes|genome|genomic|genomics|econometric|econometrics|"
        "macroeconomic|macroeconomics|regression|bayesian|stochastic|asymptotic|topology|"
        "topological|manifold|isomorphism|isomorphic|"
        # sciences, medicine, law and finance: the vocabulary of expert questions
        "mechanism|mechanisms|regulate|regulates|regulating|nerve|neuron|neurons|neural|hormone|"
        "hormones|receptor|receptors|protein|proteins|mitochondria|metabolism|metabolic|pathway|"
        "pathways|molecule|molecules|molecular|cellular|catalyst|isotope|isotopes|electron|"
        "electrons|photon|photons|wavelength|velocity|acceleration|torque|voltage|semiconductor|"
        "elasticity|equilibrium|synthesis|kinetics|oxidation|titration|spectroscopy|"
        "chromatography|antibody|antibodies|antigen|immune|pathogen|mutation|mutations|allele|"
        "phenotype|genotype|osmosis|homeostasis|cardiac|renal|hepatic|pulmonary|neurological|"
        "prognosis|contraindication|contraindications|pharmacology|jurisprudence|liability|"
        "negligence|plaintiff|defendant|fiduciary|arbitrage|amortization|depreciation|hedging|"
        "volatility|monetary|fiscal|keynesian|marginal|variability|correlation|causation|"
        "statistically|empirical|theoretical|epistemology|ontology|metaphysics|phenomenology"), 1),
}

# Known simple intents, matched on the word set of short requests.
ASSISTANT_VERBS = _split(
    "set|turn on|turn off|turn up|turn down|switch on|switch off|play|pause|resume|skip|stop|mute|"
    "unmute|remind me|wake me|snooze|call|text|dial|open|cancel|book|reserve|order|add|remove|"
    "delete|increase|decrease|dim|brighten|volume|navigate|directions|schedule")
WEATHER_TIME = _split(
    "weather|forecast|temperature outside|raining today|rain today|rain tomorrow|what time is it|"
    "what day is|today's date|timer|alarm")
ACCOUNT_FAQ = _split(
    "my card|my account|my balance|my pin|my password|my transfer|my payment|my refund|my order|"
    "my package|my delivery|my subscription|my statement|my bill|my booking|my reservation|"
    "my flight|my luggage|the atm|exchange rate|top up|top-up|credit score|routing number|"
    "track my order|reset my password|reset password|change my address|change my pin|"
    "change my password|opening hours|business hours|customer service|speak to a human|"
    "speak to an agent|refund|shipping")
