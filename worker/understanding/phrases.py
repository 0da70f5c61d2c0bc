"""Phrase tables for the intents a person writes (English and German), as data.

Each entry is ``(regular expression, weight)``: 1.0 is a clear statement ("not interested",
"let's talk"), 0.5 a hint that needs support ("interested", "gerne", "Termin"). Patterns are
matched case-insensitively on the reply's own text, never on the quoted history.
"""

from __future__ import annotations

from typing import Literal

TextIntent = Literal["unsubscribe", "referral", "negative", "positive", "question"]
PhraseTable = dict[TextIntent, tuple[tuple[str, float], ...]]


def clear(*patterns: str) -> tuple[tuple[str, float], ...]:
    """Phrases that settle the intent on their own."""
    return tuple((pattern, 1.0) for pattern in patterns)


def hint(*patterns: str) -> tuple[tuple[str, float], ...]:
    """Phrases that point to the intent but need support."""
    return tuple((pattern, 0.5) for pattern in patterns)


UNSUBSCRIBE: tuple[tuple[str, float], ...] = (
    *clear(
        r"^\W*(please |pls |kindly )?unsubscribe( me)?\W*$",
        r"\bunsubscribe (me|us|this|my|from)\b|\b(please|pls|kindly) unsubscribe\b",
        r"\b(want|wish|like|need|asked|asking) to (be )?unsubscribe(d)?\b",
        r"\bhow (do|can) (i|we) unsubscribe\b|\bbe unsubscribed\b",
        r"\bremove (me|us|my (e-?mail|address|name|contact|details|data))\b",
        r"\b(remove|delete|take|drop) .{0,40}\b(off|from) (your|the|this|all( your)?) "
        r"(mailing |e-?mail |contact |distribution |marketing )?"
        r"(list|lists|database|crm|system|sequence|campaign)",
        r"\btake (me|us|my (e-?mail|address|name)) off\b",
        r"\b(stop|quit|cease) (e-?mailing|mailing|contacting|messaging|spamming|writing to|sending)"
        r"( (me|us|emails|these|this))?",
        r"\b(stop|quit) (sending|emailing) (me|us)\b",
        r"\b(don'?t|do not|never|stop) send(ing)? (me|us) (any )?(more|further|other) "
        r"(e-?mails|messages|mails|of (these|this)|marketing|sales|stuff)\b",
        r"\b(don'?t|do not|never|stop) send(ing)? (me|us) (e-?mails|messages|mails|these|this"
        r" stuff)\b",
        r"\bleave (me|us) out of (it|this|your)\b",
        r"\b(do not|don'?t|never) (e-?mail|contact|write to|message|mail|spam) (me|us)\b",
        r"\bno (more|further) (e-?mails|messages|mails|contact|outreach)\b",
        r"\bopt(ing)?[- ]?(me )?out\b",
        r"\b(don'?t|do not) (want|wish) to (receive|get|hear)\b",
        r"\bleave me alone\b",
        r"\boff (your|the) (mailing |e-?mail |contact )?list\b",
        r"\b(delete|erase|remove) (all )?(of )?(my|our) (personal )?"
        r"(data|information|details|info)\b",
        r"\b(gdpr|article 17|art\.? 17)\b.{0,100}\b(delet|eras|remov|forget)",
        r"\b(delet|eras|remov)\w*\b.{0,100}\b(gdpr|article 17)\b",
        r"\bright to (erasure|be forgotten)\b",
        r"^\W*(please )?stop[.!]*\s*$",
        r"\bnever (signed up|subscribed|opted in|asked)\b",
        # German
        r"\babmelden\b|\babgemeldet\b|\babbestellen\b|\babbestellt\b",
        r"\bnehmen sie (mich|uns|meine (e-?mail-?)?adresse) (bitte )?(aus|von)\b",
        r"\b(aus|von) (dem|der|ihrem|ihrer|eurem|eurer|deinem|diesem|dieser|allen|ihren) ?"
        r"(e-?mail-?|mail-?)?(verteiler|newsletter|mailing|liste|listen|kontaktliste|datenbank"
        r"|verteilerliste|mailingliste|kartei)",
        r"\baus dem verteiler\b",
        r"\baustragen\b|\bausgetragen\b",
        r"\b(streichen|entfernen|löschen) sie "
        r"(mich|uns|meine (adresse|e-?mail|daten|kontaktdaten))\b",
        r"\bkeine (weiteren |erneuten |zukünftigen )?"
        r"(e-?mails|mails|nachrichten|zusendungen|werbung|kontaktaufnahmen?|anfragen)\b",
        r"\bnicht mehr (kontaktieren|anschreiben|anmailen|schreiben|belästigen|zu kontaktieren"
        r"|kontaktiert)\b",
        r"\b(kontaktieren|schreiben|mailen) sie (mich|uns) (bitte )?(nicht|nie) (mehr|wieder)\b",
        r"\b(löschung|löschen)\b.{0,60}\b(meine[rn]?|unsere[rn]?|aller|personenbezogenen) ?"
        r"(personenbezogenen )?daten\b",
        r"\b(lösch|widerspr|widerruf|art\.? ?1[57]|art\.? ?21)\w*\b.{0,100}\bdsgvo\b",
        r"\bdsgvo\b.{0,100}\b(lösch|widerspr|widerruf)\w*",
        r"\bwiderspreche\b|\bwerbewiderspruch\b",
        r"\bunterlassen sie\b",
    ),
)

NEGATIVE: tuple[tuple[str, float], ...] = (
    *clear(
        r"\bnot (really |currently |at all |very |that |too )?interested\b",
        r"\b(no|zero|little) interest\b",
        r"\bnot (a |the right |a good )?(fit|match|priority)\b",
        r"\b(isn'?t|is not|aren'?t|are not) (a |really a |currently a )?"
        r"(priority|fit|focus|match)\b",
        r"\bsigned with\b|\bgoing with (another|a different|someone else)\b|\bnot in a position\b",
        r"\b(we|i)( are| am|'re|'m) (all )?(set|covered|sorted)\b",
        r"\b(no|don'?t have( the)?|lack( the)?) (capacity|bandwidth|resources|time for this)\b",
        r"\bno,? thanks?( you)?\b|\bnope\b",
        r"\b(we|i) (already|currently) (use|have|work with|rely on|got|run)\b",
        r"\balready (using|have|use|working with|covered|in place|set up|signed)\b",
        r"\b(happy|satisfied|content) with (our|my|the) (current|existing)\b",
        r"\b(no|don'?t have( the| a| any)?|lack( of)?|without) budget\b",
        r"\b(no|don'?t|do not|doesn'?t|does not) (need|require)\b",
        r"\bnot (right )?now\b|\bnot at this (time|point|stage)\b|\bnot this (year|quarter)\b",
        r"\bnot (looking|in the market|planning|considering|pursuing)\b",
        r"\b(we'?ll|we will|i'?ll|i will|going to|gonna) pass\b|\bpass on this\b",
        r"\b(not|isn'?t|is not|aren'?t) (really |quite )?for (us|me)\b",
        r"\bnot something (we|i)('d| would| need| want| are| will)\b|\bno plans? to\b",
        r"\b(we'?re|we are|i'?m|i am) (very |quite |really |perfectly )?(happy|satisfied|content)"
        r" with\b",
        r"\b(other|different) priorities\b|\bpriorities (are|lie) elsewhere\b",
        r"\b(doesn'?t|does not|won'?t|will not|wouldn'?t) (fit|work for|be a fit|make sense)\b",
        r"\bnot relevant\b|\birrelevant\b",
        r"\b(decided|chosen|chose|opted) (to go with|for|against)\b|\bwent with\b",
        # a decision against us, however it is phrased ("decided internally against it",
        # "decided not to proceed", "decided to go a different way")
        r"\b(decided|decision|chosen|chose|opted|elected)\b[^.!?\n]{0,40}\bagainst\b",
        r"\b(decided|chosen|chose|opted|elected) not to\b",
        r"\b(go|going|went|move|moving|head|heading)( in)? (another|a different|other|our own)"
        r" (way|direction|route)\b",
        r"\b(decided|chosen|chose|opted) to (stay|stick|remain) with\b",
        r"\b(not|won'?t|will not|decided not to) (be )?(proceed(ing)?|mov(e|ing) forward"
        r"|go(ing)? ahead)\b",
        r"\bnot (really |currently )?open to\b",
        r"\b(we|i)('ll| will| must| have to| need to| would like to|'d like to)? (respectfully "
        r"|politely |kindly )?decline\b",
        r"\b(neither|nor)\b[^.!?\n]{0,40}\b(budget|capacity|bandwidth|time|resources|headcount"
        r"|need)\b",
        r"\b(no|not a) (need|use case|requirement)\b",
        r"\bno longer (interested|relevant|needed)\b",
        r"\bplease (don'?t|do not) follow up\b|\bno need to follow up\b",
        r"^\W*no\W*$",
        # German
        r"\bkein(en)? (bedarf|interesse|budget|thema|fit|mehrwert)\b",
        r"\bnicht (mehr )?interessiert\b|\binteressiert (mich|uns) (leider )?nicht\b",
        r"\bpasst (bei uns |für uns |uns )?(leider |aktuell |derzeit |momentan |gerade )?nicht\b",
        r"\bnicht (geplant|vorgesehen|angedacht)\b|\bkein(en)? wechsel\b",
        r"\b(sind|bin) (damit |sehr |rundum |absolut |vollkommen )+zufrieden\b",
        r"\bentschieden\b[^.]{0,80}\bnicht\b|\bprioritäten liegen\b.{0,40}\bwoanders\b",
        r"\bnicht weiter(zu)?verfolgen\b|\bnicht weiter zu verfolgen\b",
        r"\b(haben|nutzen|verwenden|benutzen|arbeiten|setzen) (bereits|schon)\b",
        r"\b(bereits|schon) (versorgt|gut aufgestellt|abgedeckt|eine lösung)\b",
        r"\b(sind|bin) (gut|bestens|sehr gut) (aufgestellt|versorgt)\b",
        r"\b(derzeit|aktuell|momentan|zurzeit|zur zeit|im moment|gerade) (leider )?(nicht|kein)"
        r"(?! (im|in der|am|erreichbar|verfügbar|anwesend|da\b|im büro))\b",
        r"\bnicht relevant\b|\bnicht der richtige zeitpunkt\b|\bkein guter zeitpunkt\b",
        r"\bleider nein\b|\bnein,? danke\b|\bdanke,? nein\b|\blieber nicht\b",
        r"\b(brauchen|benötigen) (wir|ich) (nicht|kein\w*)\b",
        r"\b(haben|hat) (uns|sich) (für|gegen) .{1,40} entschieden\b",
        # "uns dagegen entschieden", "entscheiden uns dagegen", "gegen eine Einführung entschieden"
        r"\bdagegen (\w+ ){0,2}entschieden\b|\b(entschieden|entscheiden)\b[^.!?\n]{0,30}"
        r"\bdagegen\b|\bgegen\b[^.!?\n]{1,50}\bentschieden\b|\bentscheidung\b[^.!?\n]{0,30}"
        r"\bdagegen\b",
        r"\bweder\b[^.!?\n]{0,40}\b(budget|kapazität\w*|zeit|bedarf|ressourcen|personal)\b",
        r"\b(dankend|vorerst|lieber) verzichten\b|\bverzichten (wir |ich )?(dankend|vorerst"
        r"|darauf)\b|\b(lehnen|lehne) (wir|ich) .{0,20}\bab\b|\bdankend ab\b",
        r"\bandere(n)? prioritäten\b",
        r"\bkommt (für uns |für mich )?(leider )?nicht in frage\b",
        r"\b(sehr |rundum |absolut )?zufrieden mit\b|\bmit (unserer|unserem) .{0,40}\bzufrieden\b",
        r"\bnicht weiter ?verfolgen\b|\bkein(e|en)? (zeit|kapazität\w*|ressourcen)\b",
        r"\b(absage|sage ab|sagen ab)\b",
        r"^\W*nein\W*$",
    ),
    *hint(
        r"\b(we|i)( are| am|'re|'m) (good|fine)\b",
        r"\b(built|developed|have|run) (our|an?) own\b|\bin-house\b|\banderen anbieter\b",
    ),
)

REFERRAL: tuple[tuple[str, float], ...] = (
    *clear(
        r"\b(reach out|speak|talk|get in touch|connect|chat) (to|with) (my|our|him|her|them)\b",
        r"\b(you should|you'?d better|better to|best to|you might want to|you may want to|please)"
        r" (talk|speak|reach out|write|contact|e-?mail|get in touch|connect)\b",
        r"\b(is|would be|are) (the )?(right|best|better|correct|appropriate) (person|contact|people"
        r"|one|team)\b",
        r"\bnot the (right|best|correct|appropriate) (person|contact|one)\b",
        r"\b(is|are) (responsible|in charge|accountable) (for|of)\b",
        r"\b(contact|e-?mail|write to|reach) (my|our) (colleague|team|head|manager|cto|ceo|cfo)\b",
        r"\b(forward(ed|ing)?|pass(ed|ing)?|refer(red|ring)?|redirect(ed|ing)?) (this|that|it|your"
        r" (e-?mail|message|note|request)|you)( on| along)? to\b",
        r"\b(cc'?ing|cc-ing|cc'?d|looping in|looped in|i'?ve (added|copied|cc'?d)|copying in"
        r"|adding .{1,40} (to|in) (cc|copy|this thread|the thread))\b",
        # German
        r"\bzuständig\w*\b",
        r"\b(richtige[rn]?|zuständige[rn]?) ansprechpartner(in)?\b|\bansprechpartner(in)? (ist|für"
        r"|wäre)\b",
        r"\bwenden sie sich (bitte |gerne )?an\b|\bmelden sie sich (bitte |gerne )?bei\b",
        r"\b(kontaktieren|schreiben|kontaktiere|schreib) (sie |du )?(bitte |gerne )?(meine[nrm]? |"
        r"unsere[nrm]? )?(kolleg|herrn?|frau|chef|teamleiter|geschäftsführ)",
        r"\b(leite|leiten|habe|hab|haben) .{0,60}\bweiter(geleitet|leiten)?\b",
        r"\bweitergeleitet\b|\bweiterleiten\b",
        r"\bin (cc|kopie)( gesetzt| genommen)?\b",
        r"\bnicht (der|die) richtige\b",
        r"\b(kümmert|befasst) sich\b|\bverantwortlich\b",
    ),
    *hint(
        r"\b(handles|owns|manages|oversees|looks after|takes care of|runs|leads) (this|that|these"
        r"|our|all|the)\b",
        r"\b(in|on) (cc|copy)\b",
        r"\bcolleagues?\b",
        r"\badding (her|him|them|my colleague)\b",
        r"\b(i'?ve|i have) (moved|changed) (to|roles|positions|teams)\b",
        # German
        r"\bkolleg(e|in|en|innen)\b",
    ),
)

POSITIVE: tuple[tuple[str, float], ...] = (
    *clear(
        r"\bsounds? (good|great|interesting|promising|perfect|fine|like a plan)\b",
        r"\blet'?s (talk|chat|connect|meet|schedule|set up|setup|book|do it|find a time|speak"
        r"|hop on|jump on|get (a call|something))\b|\blet us (talk|meet|speak)\b",
        r"\b(happy|glad|keen|open|willing) to (chat|talk|connect|meet|hop on|jump on|learn|discuss"
        r"|hear|explore|take a look|have a look|see)\b",
        r"\b(send|shoot|share) (me|us|over)? ?(a|an|your)? ?(calendar )?(invite|invitation|calendar"
        r"|booking link|calendly|link to book|times|availability|some times)\b",
        r"\b(book|schedule|set up|arrange|organi[sz]e|find|grab) (a |some )?(time|call|slot|meeting"
        r"|demo|chat|session|intro)\b",
        r"\b(would|'d) (love|like|be happy|be glad) to (chat|talk|learn|hear|see|connect|meet|try"
        r"|know more|get a demo|schedule)\b",
        r"\b(i am|i'm|we are|we're|i'd be|we'd be|would be|am|are) "
        r"(very |definitely |quite |really |certainly |genuinely |potentially )?interested\b",
        # "Interested." opens a reply; "Interested?" asks the reader (a pitch, not an answer).
        r"(^|[.!?]\s+)\W*(very |definitely |quite |really |yes,? )?interested\b(?!\s*\?)",
        r"\binterested in (a |learning|hearing|seeing|a demo|a call|trying|exploring|your|this"
        r"|the)\b",
        r"\b(tell|show) (me|us) more\b|\blearn more\b|\bmore (info|information|details)\b",
        r"\b(works|suits|is fine|fits) for (me|us)\b|\b(that|this) works\b",
        r"\b(does|would|could) (monday|tuesday|wednesday|thursday|friday|\d{1,2}(st|nd|rd|th)?"
        r"|next week|tomorrow)\b.{0,30}\bwork\b",
        r"\b(monday|tuesday|wednesday|thursday|friday) (works|is good|is fine|at \d)\b",
        r"\b(i'?m|i am|we'?re|we are) (free|available) (on|at|next|this|tomorrow|monday|tuesday"
        r"|wednesday|thursday|friday)\b",
        r"\b(give me|give us) a (call|ring)\b|\bcall me\b",
        r"\bsend (me|us|over) (a|an|your) (quote|offer|proposal|pricing)\b",
        r"\b(looks|seems) (interesting|good|great|promising|useful|relevant)\b",
        r"\b(put|add|drop|send|book) (something|a meeting|an invite|it|a call|some time|a slot)"
        r" (in|into|on|to|for) (my|our) (calendar|diary|agenda)\b|\bgood timing\b",
        r"\b(could|can|shall|should) we (do|have|set up|schedule|arrange|book|get|find|jump on"
        r"|hop on|grab) (a |some )?(quick |short |brief )?(call|meeting|chat|demo|time|slot)\b",
        r"\b(could|can|shall|should) we (talk|speak|chat|meet|connect)\b",
        r"\bhow about (monday|tuesday|wednesday|thursday|friday|next week|tomorrow)\b",
        # acceptance: agreeing to what we offered ("we'd be up for the scan", "go ahead")
        r"\b(we'?d|i'?d|we would|i would|we'?re|we are|i'?m|i am) (be )?(definitely |certainly "
        r"|totally |absolutely |very much |more than )?(up for|game for|keen on|open to (a|an|the"
        r"|it|that|this|trying|giving|having|hearing|learning|exploring|seeing))\b(?! renewal)",
        r"(^|[.!?]\s+)\W*(please |so |then |yes,? |sure,? |ok(ay)?,? )?go ahead\b|\b(please|yes"
        r"|sure|ok|okay|happy to|glad to|you can|feel free to|let'?s|we'?ll|we will|we'?d like to"
        r"|i'?d like to) go ahead\b|\bgo ahead with (the|a|it|that|this|your)\b",
        r"\bgo for it\b|\bsign (me|us) up\b|\bcount (me|us) in\b",
        r"\b(happy|glad|keen|willing|ready|like|want) to (proceed|move forward|go ahead|give it a"
        r" (try|go|shot)|try it|take you up on)\b|\blet'?s (proceed|move forward|give it a (try"
        r"|go|shot)|try it)\b|\btake you up on\b",
        # scheduling: proposing a slot is interest, even asked as a question
        r"\b(would|does|could|will|is|can) (\w+ ){0,2}(monday|tuesday|wednesday|thursday|friday"
        r"|tomorrow|next week)\b[^?!\n]{0,50}\b(work|suit|be convenient|be possible|be ok(ay)?)\b",
        r"\bare you (free|available|around) (on |at |next |this |tomorrow|monday|tuesday|wednesday"
        r"|thursday|friday)|\b(do|would) you have (some )?time (on|next|this|tomorrow|monday"
        r"|tuesday|wednesday|thursday|friday)\b",
        r"\b(i|we) (can|could) do (monday|tuesday|wednesday|thursday|friday|tomorrow|next week"
        r"|\d)|\bwhat about (monday|tuesday|wednesday|thursday|friday|next week|tomorrow)\b",
        # German
        r"\bklingt (gut|interessant|spannend|super|toll|vielversprechend|prima|sehr gut|gut an)\b",
        r"\bhört sich (gut|interessant|spannend|super|toll|vielversprechend|prima|sehr gut) an\b",
        r"\b(würde|möchte|werde|will) (ich|wir) (mir|uns) (gerne |gern )?(mal |einmal )?(anschauen"
        r"|ansehen|zeigen lassen)\b",
        # "Gerne würde ich mir Northwind in einem kurzen Termin ansehen", "schaue mir das gern an"
        r"\b(würde|möchte|werde|will) (ich|wir) (mir|uns) (?:(?!\b(nicht|kein\w*)\b)[^.!?\n])"
        r"{1,60}\b(anschauen|ansehen|anhören|zeigen lassen|vorstellen lassen)\b",
        r"\b(schaue|sehe|schauen|sehen) (ich |wir )?(mir|uns) (?:(?!\b(nicht|kein\w*)\b)"
        r"[^.!?\n]){0,40}\b(gerne|gern) (mal |einmal )?an\b|\b(gerne|gern) (schaue|sehe|schauen"
        r"|sehen) (ich|wir) (mir|uns) (?:(?!\b(nicht|kein\w*)\b)[^.!?\n]){0,40}\ban\b",
        r"\bpasst (es )?(ihnen|dir|euch) (am |der |den )?(montag|dienstag|mittwoch|donnerstag"
        r"|freitag|\d)",
        # a proposed slot: "Würde Ihnen Dienstag, der 24.11., um 10 Uhr passen?", "Hätten Sie am
        # Donnerstag Zeit?", "Ich schlage Mittwoch 14 Uhr vor"
        r"\b(würde|würden|passt|passen|ginge|geht|wäre|wären) (es |das )?(ihnen|dir|euch)\b"
        r"(?:(?!\bnicht\b)[^?!\n]){0,40}?\b(montag|dienstag|mittwoch|donnerstag|freitag|morgen"
        r"|übermorgen|nächste\w* woche|\d{1,2}\.\s?\d{1,2}\.|\d{1,2}([:.]\d{2})? uhr)",
        r"\b(hätten sie|haben sie|hast du|hättest du|habt ihr|hättet ihr)\b[^?!\n]{0,40}?"
        r"\b(montag|dienstag|mittwoch|donnerstag|freitag|morgen|nächste\w* woche|\d{1,2}\.\s?"
        r"\d{1,2}\.|\d{1,2}([:.]\d{2})? uhr)\b[^?!\n]{0,30}\bzeit\b",
        r"\b(schlage|schlagen) (ich |wir )?(ihnen |dir |euch )?(den |einen |folgende\w* )?(termin"
        r"|montag|dienstag|mittwoch|donnerstag|freitag|\d)",
        # acceptance: "wir sind dabei", "einverstanden", "legen Sie los", "gerne machen wir das"
        r"\b(wir sind|ich bin) (gerne |gern )?dabei\b|\beinverstanden\b|\blegen sie (gerne |gern )?"
        r"los\b|\b(gerne|gern) machen wir\b|\bmachen wir (gerne|gern)\b|^\W*machen wir\b",
        r"^\W*(ja|yes|yep|sure|gerne|gern)\W+(gerne|gern|please|bitte|sure|definitely"
        r"|absolutely|let's)\b",
        r"\b(lassen sie uns|lass uns|lasst uns) .{0,30}(sprechen|telefonieren|reden|austauschen"
        r"|treffen|termin|call)",
        r"\b(termin|telefontermin|gespräch|call|telefonat|meeting|demo|austausch) (vereinbaren"
        r"|ausmachen|machen|finden|buchen|abstimmen|einplanen)\b",
        r"\bpasst (mir|uns|bei mir|bei uns|gut|perfekt|prima)\b(?! nicht)",
        r"\b(interessiert|interessieren) (mich|uns)\b(?!.{0,10}nicht)",
        r"\b(bin|sind|wäre|wären) (sehr |durchaus |grundsätzlich |definitiv )?interessiert\b",
        r"\b(schicken|senden) sie (mir|uns) (gerne |bitte )?(eine[nr]? )?(einladung|termin|link"
        r"|kalendereinladung|terminvorschläge?|vorschlag)",
        r"\b(rufen sie (mich|uns)|ruf (mich|uns)) (gerne |bitte )?an\b",
        r"\b(freue mich|freuen uns) (auf|über)\b",
        r"\bmehr (erfahren|infos|informationen)\b",
        r"\b(hätte|habe|hätten|haben) (grundsätzlich |durchaus )?interesse\b",
        r"\bwie wäre (es mit )?(montag|dienstag|mittwoch|donnerstag|freitag|nächste|kommende"
        r"|morgen)\b",
        r"\b(können|könnten) wir (gerne |gern )?(einen |ein |uns )?(kurzen |kurzes )?(termin"
        r"|telefonat|gespräch|call|demo|austausch|sprechen|telefonieren|austauschen|treffen)",
        r"\b(gespräch|telefonat|austausch|call|termin|demo)\b.{0,30}\b(wäre|ist|klingt) (gut"
        r"|super|prima|sinnvoll|interessant|willkommen)\b",
        r"\bich würde mich (sehr )?(über|freuen)\b",
        r"\b(schicken|senden|machen|erstellen) sie (mir|uns) (gerne |bitte )?(ein|einen) "
        r"(angebot|kostenvoranschlag)\b|\bgerne (ein|einen) (angebot|kostenvoranschlag)\b",
    ),
    *hint(
        r"\bcount (me|us) in\b|\bwhy not\b|\babsolutely\b|\bdefinitely\b",
        r"\b(yes|yeah|yep|sure|of course|great)\b",
        r"\binterested\b|\binteresting\b|\bcurious\b",
        r"\bdemo\b|\bcall\b|\bmeeting\b",
        # German
        r"\bgerne?\b|\bgern geschehen\b",
        r"\btermin\w*\b|\binteresse\b|\bja\b|\bsehr gut\b|\bsuper\b",
    ),
)

QUESTION: tuple[tuple[str, float], ...] = (
    *clear(
        r"\bhow (much|many|long|does|do|would|can|is|are)\b",
        r"\bwhat (does|do|is|are|would|about|kind|type|sort|'s)\b|\bwhat'?s\b",
        r"\b(could|can) you (explain|send|share|tell|clarify|elaborate)\b",
        r"\b(i'?d|i would|we'?d|we would) like to (know|understand|ask)\b|\bwondering\b",
        # German
        r"\bwas (kostet|kosten|ist|sind|genau|macht|bietet|passiert)\b",
        r"\bwie (funktioniert|teuer|viel|lange|sieht|genau|läuft|hoch|unterscheidet)\b",
        r"\b(würde|möchte) (gerne |gern )?wissen\b|\bfrage mich\b",
    ),
    *hint(
        r"\b(pricing|price|prices|cost|costs|fee|fees|license|licensing)\b",
        r"\b(does|do|can|could|will|would|is|are) (it|this|you|your|the|there)\b",
        r"\b(integrate|integration|compatible|support|supports|work with)\b",
        r"\b(which|why|when|where|who)\b",
        # German
        r"\b(gibt es|können sie|kann man|kann ich|haben sie|unterstützt|unterstützen|ist es möglich"
        r"|lässt sich|funktioniert)\b",
        r"\b(preis|preise|kosten|lizenz|integration|schnittstelle)\b",
        r"\b(welche[rsmn]?|warum|wann|wo|wer|wieso|weshalb)\b",
    ),
)

PHRASES: PhraseTable = {
    "unsubscribe": UNSUBSCRIBE,
    "negative": NEGATIVE,
    "referral": REFERRAL,
    "positive": POSITIVE,
    "question": QUESTION,
}
# Words that, a few words before a phrase, turn it around ("not interested", "kein Termin").
NEGATORS = (
    r"\b(not|no|never|hardly|nicht|kein\w*|nie|niemals|weder|dont|didnt|doesnt|wont|cant|isnt"
    r"|arent|wouldnt)\b|n't\b"
)
