# Selection-slice gender accuracy of face-model ensembles from saved per-face outputs
# (train_face --save-predictions): see models/README.md, "The RGB 56 px member with the 10,000 extra FairFace rows".
import json,sys
def load(p):
    return [json.loads(l) for l in open(p) if '"split":"selection"' in l and '"label_gender":null' not in l]
ship=load('runs/selpred_models/predictions.jsonl'); main=load('runs/selpred_run2only/predictions.jsonl'); new=load(sys.argv[1])
assert len(ship)==len(main)==len(new), (len(ship),len(main),len(new))
for a,b,c in zip(ship,main,new):
    assert a['label_gender']==b['label_gender']==c['label_gender'] and a['group']==c['group'] and a['age']==c['age']
def acc(pf):
    rows=[(p>0.5, r['label_gender']=='female', r['group'], r['age']) for p,r in zip(pf,ship)]
    a=sum(x==y for x,y,_,_ in rows)/len(rows)
    rec={g:sum(x==y for x,y,_,_ in rows if y==g)/sum(1 for _,y,_,_ in rows if y==g) for g in (False,True)}
    groups={}
    for x,y,g,_ in rows: groups.setdefault(g,[]).append(x==y)
    gs={g:sum(v)/len(v) for g,v in groups.items()}
    return a,(rec[False]+rec[True])/2,max(gs.values())-min(gs.values())
pm=[r['gender'][1] for r in main]; ps=[r['gender'][1] for r in ship]; pn=[r['gender'][1] for r in new]
pg=[2*s-m for s,m in zip(ps,pm)]
for name,pf in [('main',pm),('shipped main+g56',ps),('old g56 alone',pg),('new alone',pn),('A main+new',[(m+n)/2 for m,n in zip(pm,pn)]),('B main+g56+new',[(m+g+n)/3 for m,g,n in zip(pm,pg,pn)]),('g56+new',[(g+n)/2 for g,n in zip(pg,pn)])]:
    a,b,gap=acc(pf); print(f'{name:20s} n={len(pf)} acc {a*100:.2f} bal {b*100:.2f} race gap {gap*100:.1f}')
