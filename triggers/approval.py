"""Does a requester's reply approve the data change? approve / decline / unclear, and why.

The guide's data maintenance types "*May require data maintenance approval from client": a
change to a client's data needs their consent, so a false "approved" is the harmful mistake.
This classifier therefore approves only on an affirmative statement about the change and
nothing that takes it back; everything else is left to an agent:

- Only the new text counts (`triggers.replies.reply_text`: no quoted history, no signature,
  no disclaimer); it is read sentence by sentence, accents and case folded.
- A sentence is, in this order of precedence: a *question* (ends in "?", or opens like one);
  a *refusal* (opens with "no" in any of the languages the reply parser knows, or has a
  refusing verb such as "reject", "wait", "annuler", "ablehnen"); *held* by a condition
  ("if/unless/si/wenn") or a deferral ("I'll check with my manager / je reviens vers vous");
  a *refusal* again when a negation stands next to an approving or changing word ("I don't
  approve", "bitte nichts ändern"; another negation leaves it unclear); *held* by someone
  else's words ("my manager approved"), a hedge ("not sure / peut-être") or a qualifier
  ("but / mais / only"); an *approval* ("I approve", "yes", "go ahead", "please proceed";
  "j'approuve", "oui", "allez-y", "je confirme"; a few common forms in the other languages);
  or neutral ("Thanks for checking.").
- Any refusal: DECLINE. Otherwise any question or held sentence: UNCLEAR. Otherwise an
  approval: APPROVE. Nothing: UNCLEAR. The sentence that decided is returned for the note.

The request we post asks for "I approve" (texts.DMA_REQUEST_PUBLIC); English and French are
the languages clients answer in (Canadian clients write French). Approvals in other languages are
recognised only in their plainest forms; refusals in all the languages of the reply parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triggers.replies import fold, reply_text, sentences

APPROVE, DECLINE, UNCLEAR = "approve", "decline", "unclear"
# Why a reply was not approval (keys of texts.DMA_UNCLEAR_WHY) or was.
QUESTION, REFUSAL, CONDITION, DEFERRAL, HEDGE, OTHERS_WORDS, NEGATIVE, APPROVAL, NOTHING = (
    "question",
    "refusal",
    "condition",
    "deferral",
    "hedge",
    "others_words",
    "negative",
    "approval",
    "nothing",
)


@dataclass(frozen=True)
class Verdict:
    answer: str  # APPROVE | DECLINE | UNCLEAR
    why: str  # one of the kinds above
    sentence: str | None  # the sentence the answer rests on, as the requester wrote it


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# Negative phrases that are not refusals ("no problem") are removed before looking for
# negations; those that *are* consent ("no objection", "aucune objection") count as approval.
_HARMLESS = _any(
    r"\bno (?:problem|worries|issues?|rush|need)\b",
    r"\bnothing (?:else|more|further)\b",
    r"\bno (?:further|other|more) (?:questions?|comments?|concerns?)\b",
    r"\bnot a problem\b",
    r"\bdon't hesitate\b",
    r"\bn'hesitez pas\b",
    r"\b(?:pas|aucun) (?:de )?(?:probleme|souci)s?\b",
    r"\bsans (?:probleme|souci)s?\b",
    r"\bkein problem\b",
    r"\bsin problema\b",
    r"\bsem problema\b",
    r"\bnessun problema\b",
    r"\bgeen probleem\b",
    r"\bingen problem(?:er)?\b",
    r"\bei ongelmaa\b",
    r"\bs'il (?:vous|te) plait\b",  # "please", not a condition
)
_CONSENT_BY_NEGATION = _any(
    r"\bno objections?\b",
    r"\bi (?:don't|do not) (?:mind|object|see (?:any|a) (?:problem|issue))\b",
    r"\bnothing against\b",
    r"\b(?:aucune|pas d') ?objection\b",
    r"\bje n'ai (?:pas d'|aucune )objection\b",
    r"\brien contre\b",
    r"\bkeine einwande\b",
)

# --- questions -----------------------------------------------------------------------------
_QUESTION_OPENERS = _any(
    # English: a modal or wh-word opening an interrogative ("Can you confirm which ...").
    r"^(?:can|could|would|will|shall|should|is|are|do|does|did|have|has)"
    r" (?:you|we|i|it|this|that|these|those|the|there|someone|anyone)\b",
    r"^(?:which|what|when|why|how|who|where|whose)\b",
    # French: "est-ce que", inversion "pouvez-vous", interrogatives.
    r"^est-ce\b",
    r"^\w+-(?:vous|nous|tu|t-il|t-elle|il|elle|ils)\b",
    r"^(?:quel(?:le)?s?|pourquoi|comment|quand|combien|qui|ou)\b",
    # German, Spanish, Portuguese, Italian, Dutch, Nordic wh-words.
    r"^(?:welche[rsn]?|warum|wann|wie|wer|wo|cual(?:es)?|cuando|por que|como|quien|quais?|"
    r"quando|porque|perche|quale|quali|chi|dove|welke|waarom|wanneer|hoe|hvilke|hvorfor|"
    r"hvornar|hvordan|vilka|varfor|nar|hur|mita|milloin|miksi|miten)\b",
)

# --- refusals ------------------------------------------------------------------------------
# "No" opening a sentence, in the reply parser's languages (EN, FR, DE, ES/IT, PT, NL,
# DA/SV, NO, FI).
_NO_OPENER = re.compile(r"^(?:no|nope|nah|non|nein|nee|nej|nei|nao|ei)\b")
_REFUSING = _any(
    # English
    r"\b(?:reject|decline|refuse|deny|denied|disapprove|cancel|revoke|withdraw)\w*\b",
    r"\b(?:stop|wait|postpone|hold off|hold on|put (?:it|this) on hold|not yet|not now)\b",
    r"\bleave (?:it|them|things|everything|the data)\b|\bleave (?:\w+ ){0,2}as (?:it is|is|they are)\b",
    r"\bbut no\b|\bno thank(?:s| you)\b",
    # French
    r"\b(?:refus|annul|suspend)\w*\b",
    r"\b(?:attendez|attendre|patientez|arretez|stoppez|pas encore|pas maintenant)\b",
    r"\blaissez (?:tel|comme|les donnees)\b",
    # German
    r"\b(?:ablehn|lehne\b|abgelehnt|abbrech|abgebrochen|storn|widerruf)\w*",
    r"\b(?:warten sie|bitte warten|abwarten|stopp|noch nicht)\b",
    # Spanish, Portuguese, Italian
    r"\b(?:rechaz|recus|rejeit|rifiut|annull|cancel)\w*\b",
    r"\b(?:esperen|espere|esperar|aguardem|aguarde|aspettate|aspetti|aspettare|todavia no|"
    r"ainda nao|non ancora)\b",
    # Dutch
    r"\b(?:afwijz|afgewezen|annuleer|annuleren)\w*\b|\b(?:wacht|wachten|nog niet)\b",
    # Danish, Norwegian, Swedish
    r"\b(?:afvis|avvis|avsla|avslag|annuller)\w*\b",
    r"\b(?:vent|vent lidt|vanta|vaent|inte an|ikke endnu|ikke enna)\b",
    # Finnish
    r"\b(?:hylk|hylat|peru|odot|ei viela)\w*\b",
)
# Negations (spoken French drops "ne": "c'est pas ok").
_NEGATION = _any(
    r"\b(?:not|never|cannot|nothing|none|no)\b|n't\b",
    r"\bne\b|\bn'|\b(?:pas|jamais|rien|aucune?)\b",
    r"\b(?:nicht|nichts|kein\w*|niemals)\b",
    r"\b(?:nunca|nada|ninguna?|nao|non|mai|niente|nulla|nessun[oa]?)\b",
    r"\b(?:niet|geen|nooit|niets)\b",
    r"\b(?:ikke|ingen|intet|inget|aldrig|aldri|inte|icke)\b",
    r"\b(?:ei|emme|ette|eivat)\b",
)
# Words a negation turns into a refusal: approving, agreeing, or making the change.
_CHANGE_OR_CONSENT = _any(
    r"\b(?:approv|agree|consent|authori[sz]|accept|confirm|proceed|go ahead|ok\b|okay|fine|"
    r"want|change|modif|update|touch|edit|alter|correct|fix|patch|appl|make|do it|do this|"
    r"do that|do anything)\w*",
    r"\b(?:approuv|accord|accept|autoris|confirm|valid|proced|chang|modifi|touch|corrig|"
    r"veux|voulons|souhait)\w*|\b(?:faire|faites|fais|fait)\b",
    r"\b(?:genehmig|einverstanden|zustimm|stimme|freigeb|anders|andern|andert|anpass|machen|"
    r"ok|okay|korrigier|bearbeit)\w*",
    r"\b(?:aprob|aprov|acuerdo|acordo|autoriz|cambi|modific|mudar|mude|alter|hag|approv|"
    r"d'accordo|toccat|procedet|prosigu|prossig)\w*|\b(?:fazer|facam|faca)\b",
    r"\b(?:goedkeur|keur|akkoord|wijzig|verander|aanpass)\w*|\b(?:doe het|doen)\b",
    r"\b(?:godkend|godkjen|godkann|andr|aendr|endr|gor|gjor)\w*",
    r"\b(?:hyvaksy|muuta|muutta|tehda|tehka)\w*",
)

# --- held: conditions, deferrals, hedges, qualifiers, someone else's words ---------------
_CONDITION = _any(
    r"\b(?:if|unless|provided|providing|as long as|assuming|on condition|subject to|once|"
    r"only after|after|as soon as)\b",
    r"\bsi (?:vous|c'est|cela|ca|le|la|les|tout|nous|on|il|elle|j'|rien)\b|\bs'il\b|\bs'ils\b",
    r"\b(?:sauf si|a condition|pourvu que|tant que|une fois que|apres|des que|des reception)\b",
    r"\b(?:wenn|falls|sofern|sobald|nachdem|unter der bedingung)\b",
    r"\b(?:siempre que|con tal de que|desde que|contanto que|purche|a patto che|"
    r"indien|mits|zodra|hvis|forudsat|forutsatt|jos|kunhan)\b",
)
_DEFERRAL = _any(
    r"\b(?:i'll|i will|i'd|i would|let me|we'll|we will|i need to|we need to|i have to|"
    r"we have to|i must|i want to|i'm going to|i am going to|i'm gonna)"
    r" (?:\w+ ){0,3}(?:check|confirm|ask|verify|review|revert|discuss|talk|consult|run|"
    r"look|think|come back|get back|double-check|find out|see)\b",
    r"\b(?:get|come|circle) back to you\b|\bcheck with\b|\brun it by\b|\bwill revert\b",
    r"\bkeep you posted\b|\blet you know\b|\bneed (?:more )?time\b|\bneed to think\b",
    r"\bje (?:vais|dois|veux) (?:\w+ ){0,3}(?:verifier|demander|confirmer|revenir|voir|"
    r"regarder|consulter|reflechir|valider)\b",
    r"\bje (?:reviens|vous reviens|vous recontacte|vous tiens|vous redis|vous confirme plus tard)\b",
    r"\blaissez-moi\b|\bje vous (?:dirai|ferai savoir)\b",
    r"\bich (?:muss|werde|mochte) (?:\w+ ){0,4}(?:prufen|klaren|nachfragen|ruckfragen|"
    r"besprechen|melden)\b|\bich melde mich\b",
    r"\b(?:te|le|les) (?:confirmo|aviso)\b|\b(?:lo|la) consulto\b|\bvou (?:verificar|confirmar)\b",
    r"\bti faccio sapere\b|\bvi faccio sapere\b|\bik laat (?:het )?(?:weten|u weten)\b",
    r"\bik kom (?:erop|er op) terug\b|\bjeg vender tilbage\b|\bjeg kommer tilbake\b",
    r"\bjag aterkommer\b|\bpalaan asiaan\b",
)
_HEDGE = _any(
    r"\b(?:not sure|unsure|maybe|perhaps|probably|possibly|i guess|i think|i believe|"
    r"should be fine|might|in principle|tentatively|for now)\b",
    r"\b(?:pas sur|peut-etre|probablement|je pense|je crois|en principe|a priori)\b",
    r"\b(?:vielleicht|wahrscheinlich|ich glaube|ich denke|eigentlich)\b",
    r"\b(?:quiza|quizas|talvez|forse|misschien|kanske|maske|kanskje|ehka)\b",
)
_QUALIFIER = _any(
    r"\b(?:but|however|though|although|except|excluding|apart from|only)\b",
    r"\b(?:mais|cependant|toutefois|sauf|excepte|seulement|uniquement)\b",
    r"\b(?:aber|jedoch|ausser|nur)\b",
    r"\b(?:pero|sin embargo|excepto|solo|solamente|mas|porem|apenas|tranne|soltanto|"
    r"maar|behalve|alleen|men|bara|kun|kuitenkin|paitsi|vain)\b",
)
_OTHERS_WORDS = _any(
    r"\b(?:he|she|they|my|our) (?:\w+ ){0,2}(?:says?|said|approved|approves|agreed|agrees|"
    r"confirmed|confirms|is fine|is ok|okayed|signed off)\b",
    r"\b(?:approved|confirmed|agreed|authori[sz]ed|signed off) by (?!me\b)",
    r"\b(?:il|elle|ils|elles|mon|ma|mes|notre|nos) (?:\w+ ){0,2}(?:dit|approuve|a approuve|"
    r"est d'accord|a confirme|a valide|valide)\b",
    r"\b(?:er|sie|mein|meine|unser|unsere) (?:\w+ ){0,2}(?:sagt|hat genehmigt|ist einverstanden)\b",
)

# --- approvals -----------------------------------------------------------------------------
_APPROVAL = _any(
    # English: the request's own "I approve", yes-words opening the sentence, imperatives.
    r"\b(?:i|we) (?:hereby |also |fully )?(?:approve|confirm|agree|authori[sz]e|consent|accept)\b",
    r"^(?:yes|yep|yeah|yup|sure|absolutely|certainly|of course|definitely|correct|agreed|"
    r"approved|confirmed|authori[sz]ed|accepted)\b",
    r"\b(?:this|that|it|the change|the fix|the update) (?:is|'s) (?:approved|confirmed|fine|ok|"
    r"okay|good to go)\b|\b(?:that|it)'s (?:fine|ok|okay|approved)\b",
    r"\bgo ahead\b|\bgo-ahead\b|\bgreen light\b|\bgood to go\b",
    r"^(?:please )?(?:proceed|continue|make the change|apply the (?:change|fix|patch)|do it)\b",
    r"\bplease (?:do|proceed|continue|make (?:the|this|that) change|apply it)\b",
    r"\byou (?:may|can|are (?:cleared|authori[sz]ed|free) to) (?:proceed|go ahead|make|"
    r"apply|change|update|do)\b",
    r"\b(?:you have|here is|here's|consider this|take this as) (?:my|our) (?:approval|go-ahead|"
    r"consent|permission|sign-?off|ok)\b",
    r"\b(?:ok|okay|fine|good) (?:to proceed|to go|by me|by us|with me|with us|for me|for us)\b",
    r"^(?:ok|okay|sure|fine|approve|sounds good|works for me|that works)\W*$",
    r"\bsounds good\b|\bworks for me\b|\bapproval (?:granted|given)\b",
    # French
    r"\bj'(?:approuve|accepte|autorise|y consens|confirme)\b",
    r"\bje (?:confirme|valide|consens|vous autorise|suis d'accord|donne (?:mon|notre) "
    r"(?:accord|feu vert|approbation|aval))\b",
    r"\bnous (?:approuvons|confirmons|validons|acceptons|autorisons|sommes d'accord)\b",
    r"^(?:oui|ouais|bien sur|absolument|tout a fait|volontiers|d'accord|entendu|"
    r"approuve|valide|confirme|accepte|autorise)e?s?\b",
    r"\ballez[- ]y\b|\bprocedez\b|\bvous pouvez (?:y aller|proceder|effectuer|faire|appliquer|"
    r"continuer|aller de l'avant)\b|\bfaites[- ]le\b",
    r"\bc'est (?:bon|ok|d'accord|parfait|approuve|valide)\b|\bca me va\b|"
    r"\b(?:ok|bon|d'accord) pour (?:moi|nous)\b|\bfeu vert\b|\bmon accord\b",
    # German
    r"^(?:ja|jawohl|gerne|einverstanden|genehmigt|freigegeben|in ordnung|passt)\b",
    r"\bich (?:stimme zu|genehmige|bin einverstanden|gebe (?:es |das |die anderung )?frei)\b",
    r"\b(?:bitte (?:fortfahren|durchfuhren|umsetzen)|sie konnen (?:fortfahren|loslegen))\b",
    # Spanish, Portuguese, Italian
    r"^(?:de acuerdo|aprobado|adelante|conforme|sim|de acordo|aprovado|d'accordo|approvato|"
    r"va bene)\b|^si,? (?:adelante|claro|de acuerdo|aprobado|procedan)\b",
    r"\b(?:apruebo|autorizo|aprovo|approvo|autorizzo|pueden proceder|procedan|podem prosseguir|"
    r"pode prosseguir|potete procedere|procedete)\b",
    # Dutch, Nordic, Finnish
    r"^(?:akkoord|goedgekeurd|godkendt|godkjent|godkant|hyvaksytty)\b",
    r"\b(?:ik keur (?:het|dit|de wijziging) goed|ga (?:je|uw) gang|gaat u (?:je|uw)? ?gang|"
    r"jeg godkender|jeg godkjenner|jag godkanner|ga i gang|kor pa|hyvaksyn|voitte jatkaa|"
    r"saatte jatkaa)\b",
)
# Interjections before the words that count ("Hi, yes ...", "Well, ok").
_LEAD_IN = re.compile(
    r"^(?:(?:hi|hello|hey|dear|bonjour|salut|hallo|hola|ola|ciao|hej|hei|moi)\b[^,.!]{0,30}"
    r"[,.!]\s*|(?:ok|okay|right)\s*[,.!]\s*(?=\w)|(?:well|so|alors|bon|also|pues|allora)\s*,?\s+)"
)


def _kind(sentence: str) -> str:
    """The kind of one sentence (folded): see the module docstring."""
    text = _LEAD_IN.sub("", sentence.strip()).strip(" \"'“”«»*")
    if text.endswith("?") or "?" in text or "¿" in text or _QUESTION_OPENERS.search(text):
        return QUESTION
    consent = bool(_CONSENT_BY_NEGATION.search(text))
    plain = _CONSENT_BY_NEGATION.sub(" ok ", _HARMLESS.sub(" ", text))
    if _NO_OPENER.search(plain) or _REFUSING.search(plain):
        return REFUSAL
    # A condition or deferral holds the whole sentence, negated or not ("if it doesn't
    # change the billing, go ahead" is neither a yes nor a no).
    for kind, pattern in ((CONDITION, _CONDITION), (DEFERRAL, _DEFERRAL)):
        if pattern.search(plain):
            return kind
    if _NEGATION.search(plain):
        return REFUSAL if _CHANGE_OR_CONSENT.search(plain) else NEGATIVE
    for kind, pattern in (
        (OTHERS_WORDS, _OTHERS_WORDS),
        (HEDGE, _HEDGE),
        (HEDGE, _QUALIFIER),
    ):
        if pattern.search(plain):
            return kind
    if consent or _APPROVAL.search(plain):
        return APPROVAL
    return NOTHING


def classify(body: str) -> Verdict:
    """The answer a requester's reply gives to our request for approval, and the sentence it
    rests on: a refusal; else a question, a condition, a deferral, someone else's words, a
    hedge or a negation we cannot read (in that order); else the first approval."""
    found: dict[str, str] = {}
    for sentence in sentences(reply_text(body)):
        found.setdefault(_kind(fold(sentence)), sentence)
    if REFUSAL in found:
        return Verdict(DECLINE, REFUSAL, found[REFUSAL])
    for kind in (QUESTION, CONDITION, DEFERRAL, OTHERS_WORDS, HEDGE, NEGATIVE):
        if kind in found:
            return Verdict(UNCLEAR, kind, found[kind])
    if APPROVAL in found:
        return Verdict(APPROVE, APPROVAL, found[APPROVAL])
    return Verdict(UNCLEAR, NOTHING, None)
